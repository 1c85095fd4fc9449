"""End-to-end tests on a real Kubernetes control plane built from the Go module proxy (see README.md)."""
