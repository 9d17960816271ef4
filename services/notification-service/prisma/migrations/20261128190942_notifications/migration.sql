-- CreateTable
CREATE TABLE "notification" (
    "id" BIGSERIAL NOT NULL,
    "event_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "severity" TEXT NOT NULL,
    "routing_id" UUID NOT NULL,
    "routing_code" TEXT NOT NULL,
    "job_id" UUID NOT NULL,
    "message" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "notification_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "notification_event_id_key" ON "notification"("event_id");

-- CreateIndex
CREATE INDEX "notification_routing_id_id_idx" ON "notification"("routing_id", "id");

-- Hand-written (Prisma can't model it; the diff ignores it): wake every replica's live fan-out, which LISTENs
-- on mcms_notification_<schema>, once per inserting statement. NOTIFY is delivered at commit, so a listener
-- never reads before the rows are visible; the payload is empty because listeners read `id > cursor`.
CREATE FUNCTION "notification_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('mcms_notification_' || TG_TABLE_SCHEMA, ''); RETURN NULL; END $$;

CREATE TRIGGER "notification_notify" AFTER INSERT ON "notification"
  FOR EACH STATEMENT EXECUTE FUNCTION "notification_notify"();
