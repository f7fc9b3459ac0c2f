package images

// e2eRecipes are the images only the upstream Kubernetes e2e [Conformance]
// specs need (beyond pause, busybox and agnhost in coreRecipes).
var e2eRecipes []recipe
