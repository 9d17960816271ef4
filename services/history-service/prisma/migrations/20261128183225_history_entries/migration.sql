-- CreateTable
CREATE TABLE "history_entry" (
    "id" UUID NOT NULL,
    "routing_id" UUID NOT NULL,
    "change_type" TEXT NOT NULL,
    "field" TEXT,
    "previous_value" TEXT,
    "current_value" TEXT,
    "outcome" TEXT,
    "job_id" UUID,
    "comment" TEXT,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "history_entry_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "history_entry_routing_id_created_at_id_idx" ON "history_entry"("routing_id", "created_at", "id");

-- Hand-written (Prisma can't model a partial index; the diff ignores it): at most one final entry
-- (AddinJobCompleted or AddinJobFailed) per job. The consumer inserts with ON CONFLICT DO NOTHING, so a
-- replayed or repeated result (a new event id for the same job's outcome) is absorbed here rather than
-- recorded twice; the primary key (the event id) absorbs plain redeliveries.
CREATE UNIQUE INDEX "history_entry_one_final_entry_per_job" ON "history_entry"("job_id")
  WHERE "change_type" IN ('AddinJobCompleted', 'AddinJobFailed');
