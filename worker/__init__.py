"""RQ jobs and their scheduling. Jobs take ids, never ORM objects."""
