-- AlterTable
ALTER TABLE "outbox" ADD COLUMN     "actor_role" TEXT;
