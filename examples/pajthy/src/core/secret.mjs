// Controller secrets are stored only as their SHA-256 hash.
import { createHash } from "node:crypto";

export function hashSecret(secret) {
  return typeof secret === "string" && secret !== "" ? createHash("sha256").update(secret).digest("hex") : null;
}
