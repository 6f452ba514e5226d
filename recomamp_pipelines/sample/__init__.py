"""The sample account of the demo: two users, two AMC instances, workflows and collections."""
