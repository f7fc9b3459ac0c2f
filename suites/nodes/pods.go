package nodes

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/distrobench/distrobench/suites/framework"
)

// Ports of the agnhost netexec servers.
const netexecPort = 8080

// podOn builds a pod of the given containers, pinned to node when node is
// not "" (node affinity on metadata.name, so the scheduler still places it),
// with a short grace period so namespace cleanup is quick.
func podOn(name, node string, labels map[string]string, containers ...corev1.Container) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			Containers:                    containers,
			TerminationGracePeriodSeconds: ptr.To[int64](1),
		},
	}
	if node != "" {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchFields: []corev1.NodeSelectorRequirement{{
						Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
					}},
				}},
			},
		}}
	}
	return p
}

// busybox is a busybox container running `sh -c script`.
func busybox(name string, script ...string) corev1.Container {
	return corev1.Container{
		Name: name, Image: framework.BusyboxImage, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"sh", "-c", strings.Join(script, "\n")},
	}
}

// agnhost is an agnhost container running one of its subcommands.
func agnhost(name string, args ...string) corev1.Container {
	return corev1.Container{
		Name: name, Image: framework.AgnhostImage, ImagePullPolicy: corev1.PullIfNotPresent,
		Args: args,
	}
}

// netexec is an agnhost netexec HTTP server on netexecPort: /hostname
// answers the pod's name, /echo?msg=X answers X (and logs the request).
func netexec() corev1.Container { return netexecNamed("netexec") }

// netexecNamed is netexec in a container of the given name.
func netexecNamed(name string) corev1.Container {
	c := agnhost(name, "netexec", "--http-port=8080", "--udp-port=-1")
	c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: netexecPort, Protocol: corev1.ProtocolTCP}}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Path: "/hostname", Port: intstr.FromInt32(netexecPort), // netexec's /healthz answers 412 at first
	}}, PeriodSeconds: 1}
	return c
}

// sleeper is a busybox container that idles; tests exec into it.
func sleeper() corev1.Container {
	return busybox("client", "exec sleep 3600")
}
