"""Coordinators: producer-id allocation and the group coordinator (``group``); transactions later."""
