-- Hand-written (Prisma can't model triggers). The statement-level UPDATE trigger of 20261128183347 captured
-- the old and new rows of every UPDATE of addin_job in transition tables and joined them to count the jobs
-- that became Pending — on every claim and every completion batch, outputs and all, although only the lease
-- sweep's requeue ever makes a job Pending again (decision 0014). A row trigger whose WHEN clause is false
-- costs an UPDATE a comparison per row and no tuplestore: it runs only for a job that becomes Pending, and
-- notifies with that job's id (distinct payloads, so PostgreSQL's de-duplication of identical notifications
-- in one transaction cannot merge two requeued jobs into one wake). The listener counts a payload of digits
-- as that many jobs (the INSERT trigger's count) and anything else as one.

DROP TRIGGER "addin_job_notify_pending_update" ON "addin_job";

CREATE FUNCTION "addin_job_notify_requeued"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mcms_jobs_' || TG_TABLE_SCHEMA, NEW.job_id::text);
  RETURN NULL;
END $$;

CREATE TRIGGER "addin_job_notify_requeued" AFTER UPDATE OF "status" ON "addin_job"
  FOR EACH ROW WHEN (NEW."status" = 'Pending' AND OLD."status" IS DISTINCT FROM 'Pending')
  EXECUTE FUNCTION "addin_job_notify_requeued"();
