"""The beat schedule (data) and the due-stream dispatcher."""
