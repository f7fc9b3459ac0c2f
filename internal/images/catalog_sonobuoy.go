package images

// sonobuoyRecipes are the images sonobuoy's certified-conformance run asks
// for: its own aggregator/worker image and the conformance plugin's image.
var sonobuoyRecipes []recipe
