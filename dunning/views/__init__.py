"""The collections portal: the collector's screens (workspace.py) and the supervisor's (supervision.py)."""
