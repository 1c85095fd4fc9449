"""Coordinators: producer-id allocation now; group and transaction coordinators later."""
