"""`make bench`: the end-to-end benchmark of the running stack, its physical limits and a peer."""
