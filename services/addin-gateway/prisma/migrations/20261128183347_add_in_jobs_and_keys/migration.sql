-- CreateTable
CREATE TABLE "addin_job" (
    "job_id" UUID NOT NULL,
    "routing_id" UUID NOT NULL,
    "routing_code" TEXT NOT NULL,
    "item_code" TEXT NOT NULL,
    "revision_code" TEXT NOT NULL,
    "cam_revision" TEXT NOT NULL,
    "parameters" JSONB NOT NULL,
    "status" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "pending_since" TIMESTAMPTZ(3) NOT NULL,
    "started_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "lease_expires_at" TIMESTAMPTZ(3),
    "claimed_by" TEXT,
    "result_status" TEXT,
    "message" TEXT,
    "outputs" JSONB,
    "result_hash" TEXT,
    "requested_by" TEXT NOT NULL,
    "correlation_id" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "addin_job_pkey" PRIMARY KEY ("job_id")
);

-- CreateTable
CREATE TABLE "addin_key" (
    "key_id" UUID NOT NULL,
    "name" TEXT,
    "key_hash" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),

    CONSTRAINT "addin_key_pkey" PRIMARY KEY ("key_id")
);

-- CreateIndex
CREATE INDEX "addin_job_status_created_at_idx" ON "addin_job"("status", "created_at");

-- CreateIndex
CREATE INDEX "addin_job_status_lease_expires_at_idx" ON "addin_job"("status", "lease_expires_at");

-- CreateIndex
CREATE INDEX "addin_job_status_pending_since_idx" ON "addin_job"("status", "pending_since");

-- CreateIndex
CREATE UNIQUE INDEX "addin_key_key_hash_key" ON "addin_key"("key_hash");

-- Hand-written (Prisma can't model triggers; the diff ignores them). No CHECK constraints on status and
-- result_status: the wasm schema engine behind `cli.js diff` panics introspecting them, so the service's row
-- mapping rejects unknown values instead.

-- Wakes long-polling `GET /api/addin/jobs/next` requests, which LISTEN on mcms_jobs_<schema>: once per
-- statement that makes jobs Pending (an insert, or the lease sweep's requeue), with the number of such jobs as
-- the payload, so a process wakes that many waiters instead of all of them. search_path puts the function in
-- this service's schema.
CREATE FUNCTION "addin_job_notify_pending"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*) INTO n FROM new_rows WHERE status = 'Pending';
  ELSE
    SELECT count(*) INTO n FROM new_rows JOIN old_rows USING (job_id)
      WHERE new_rows.status = 'Pending' AND old_rows.status <> 'Pending';
  END IF;
  IF n > 0 THEN
    PERFORM pg_notify('mcms_jobs_' || TG_TABLE_SCHEMA, n::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "addin_job_notify_pending_insert" AFTER INSERT ON "addin_job"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "addin_job_notify_pending"();

CREATE TRIGGER "addin_job_notify_pending_update" AFTER UPDATE ON "addin_job"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "addin_job_notify_pending"();
