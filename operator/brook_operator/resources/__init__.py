"""The Kubernetes side of reconciling: server-side apply of desired objects (Created, Patched, Noop, ...)."""
