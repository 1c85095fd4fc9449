"""pydantic models of the CRs (group `brook.dev`, version `v1alpha1`) and the CRDs rendered from them."""
