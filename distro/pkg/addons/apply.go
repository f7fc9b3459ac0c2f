package addons

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Retry pacing of Apply.
const (
	firstRetry = 500 * time.Millisecond
	maxRetry   = 10 * time.Second
	// quietAttempts failures are logged at Info (the apiserver is often
	// still creating kube-system right after /readyz); later ones at Warn.
	quietAttempts = 5
)

// Apply renders the manifests for o and applies them to the cluster behind
// rc: enabled manifests with server-side apply, and objects of disabled
// add-ons that carry k3lite's LabelAddon are deleted (K3s removes a
// disabled add-on too). It retries the whole set until it succeeds or ctx
// is done (then it returns ctx's error). A rendering error is returned at
// once: retrying cannot fix it.
func Apply(ctx context.Context, rc *rest.Config, o Options, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	manifests, err := Render(o)
	if err != nil {
		return err
	}
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "k3lite-addons"
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("add-ons: dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return fmt.Errorf("add-ons: discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	a := &applier{dyn: dyn, mapper: mapper, log: log}

	delay := firstRetry
	for attempt := 1; ; attempt++ {
		err := a.applyAll(ctx, manifests)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		level := slog.LevelInfo
		if attempt >= quietAttempts {
			level = slog.LevelWarn
		}
		log.Log(ctx, level, "applying add-ons failed; retrying", "attempt", attempt, "retryIn", delay.String(), "err", err)
		mapper.Reset()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetry)
	}
}

type applier struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
	log    *slog.Logger
	// done remembers manifests already applied, so a retry does not log
	// them twice (applying them again would be harmless).
	done map[string]bool
}

func (a *applier) applyAll(ctx context.Context, manifests []Manifest) error {
	if a.done == nil {
		a.done = map[string]bool{}
	}
	for _, m := range manifests {
		if a.done[m.Name] {
			continue
		}
		var err error
		if m.Enabled {
			err = a.apply(ctx, m)
		} else {
			err = a.remove(ctx, m)
		}
		if err != nil {
			return err
		}
		a.done[m.Name] = true
	}
	return nil
}

func (a *applier) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return a.dyn.Resource(mapping.Resource), nil
}

func (a *applier) apply(ctx context.Context, m Manifest) error {
	for _, obj := range m.Objects {
		ri, err := a.resource(obj)
		if err != nil {
			return fmt.Errorf("add-on %s: %w", m.Name, err)
		}
		if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return fmt.Errorf("add-on %s: apply %s %s: %w", m.Name, obj.GetKind(), objectName(obj), err)
		}
	}
	a.log.Info("applied add-on", "addon", m.Name, "objects", len(m.Objects))
	return nil
}

// remove deletes the objects of a disabled add-on that k3lite created (they
// carry LabelAddon=<name>); objects of the same name made by someone else
// are left alone.
func (a *applier) remove(ctx context.Context, m Manifest) error {
	removed := 0
	for _, obj := range m.Objects {
		ri, err := a.resource(obj)
		if err != nil {
			return fmt.Errorf("disabled add-on %s: %w", m.Name, err)
		}
		live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("disabled add-on %s: get %s %s: %w", m.Name, obj.GetKind(), objectName(obj), err)
		}
		if !OwnedBy(live, m.Name) {
			continue
		}
		prop := metav1.DeletePropagationBackground
		err = ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{PropagationPolicy: &prop})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("disabled add-on %s: delete %s %s: %w", m.Name, obj.GetKind(), objectName(obj), err)
		}
		removed++
	}
	if removed > 0 {
		a.log.Info("removed disabled add-on", "addon", m.Name, "objects", removed)
	} else {
		a.log.Debug("add-on disabled", "addon", m.Name)
	}
	return nil
}

// OwnedBy reports whether obj was applied by k3lite as part of manifest name.
func OwnedBy(obj *unstructured.Unstructured, name string) bool {
	return obj.GetLabels()[LabelAddon] == name
}

func objectName(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}
