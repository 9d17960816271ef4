-- CreateTable
CREATE TABLE "outbox_message" (
    "id" BIGSERIAL NOT NULL,
    "message_id" UUID NOT NULL,
    "exchange" TEXT NOT NULL,
    "routing_key" TEXT NOT NULL,
    "envelope" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "outbox_message_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "inbox_message" (
    "consumer" TEXT NOT NULL,
    "message_id" UUID NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbox_message_pkey" PRIMARY KEY ("consumer","message_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "outbox_message_message_id_key" ON "outbox_message"("message_id");

-- Hand-written (Prisma can't model it; the diff ignores it): wake the outbox relay, which LISTENs on
-- mcms_outbox_<schema>, once per inserting statement. search_path puts the function in this service's schema.
CREATE FUNCTION "outbox_message_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('mcms_outbox_' || TG_TABLE_SCHEMA, ''); RETURN NULL; END $$;

CREATE TRIGGER "outbox_message_notify" AFTER INSERT ON "outbox_message"
  FOR EACH STATEMENT EXECUTE FUNCTION "outbox_message_notify"();
