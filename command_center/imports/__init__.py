"""Bulk imports as jobs of the command centre: records staff upload a file, a replica runs it in the
background (one at a time per job, by a lease in the database), resumably, with progress on the console."""
