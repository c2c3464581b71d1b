-- What a task attempt found, for the run history (the reconcile task's counts and sample keys).
ALTER TABLE schedule_tasks ADD COLUMN detail TEXT;
