package measure

import (
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// UnthrottledClient is a client of c without client-side rate limiting,
// for every benchmark that times calls (see unthrottledClient).
func UnthrottledClient(c *rest.Config) (kubernetes.Interface, error) {
	cs, _, err := unthrottledClient(c)
	return cs, err
}
