-- CreateEnum
CREATE TYPE "RoutingStatus" AS ENUM ('Draft', 'PendingApproval', 'Approved', 'Rejected');

-- CreateEnum
CREATE TYPE "GenerationStatus" AS ENUM ('Queued', 'InProgress', 'Completed', 'Failed');

-- CreateTable
CREATE TABLE "routing" (
    "id" UUID NOT NULL,
    "routing_code" TEXT NOT NULL,
    "item_code" TEXT NOT NULL,
    "revision_code" TEXT NOT NULL,
    "status" "RoutingStatus" NOT NULL,
    "cam_revision" TEXT NOT NULL,
    "last_addin_job_id" UUID,
    "last_generation_status" "GenerationStatus",
    "last_generation_message" TEXT,
    "last_generated_at" TIMESTAMPTZ(3),
    "last_output_digest" TEXT,
    "generation_progress" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "routing_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "generation_result" (
    "job_id" UUID NOT NULL,
    "routing_id" UUID NOT NULL,
    "result_status" TEXT NOT NULL,
    "generation_status" "GenerationStatus" NOT NULL,
    "message" TEXT,
    "stale" BOOLEAN NOT NULL,
    "cam_revision_before" TEXT NOT NULL,
    "cam_revision_after" TEXT NOT NULL,
    "meta_json_digest" TEXT,
    "processed_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "generation_result_pkey" PRIMARY KEY ("job_id")
);

-- CreateIndex
CREATE INDEX "routing_created_at_id_idx" ON "routing"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "routing_status_created_at_id_idx" ON "routing"("status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "routing_last_generation_status_created_at_id_idx" ON "routing"("last_generation_status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "routing_item_code_revision_code_routing_code_key" ON "routing"("item_code", "revision_code", "routing_code");

-- CreateIndex
CREATE INDEX "generation_result_routing_id_idx" ON "generation_result"("routing_id");

-- AddForeignKey
ALTER TABLE "generation_result" ADD CONSTRAINT "generation_result_routing_id_fkey" FOREIGN KEY ("routing_id") REFERENCES "routing"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
