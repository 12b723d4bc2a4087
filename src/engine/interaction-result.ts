/**
 * What an interaction produces, independent of HTTP: the FHIR status (the same
 * one a batch/transaction response entry carries), and the version or bundle.
 */
import type { Bundle, OperationOutcome, Resource } from 'fhir/r4';
import type { StoredVersion } from '../store/resource-store.js';

export interface VersionResult {
  status: 200 | 201;
  version: StoredVersion;
  /** Issues worth telling the client even on success (e.g. ignored id on create). */
  outcome?: OperationOutcome;
}

export interface DeleteResult {
  status: 200 | 204;
  /** The delete version, when something was deleted. */
  version?: StoredVersion;
}

export interface BundleResult {
  status: 200;
  bundle: Bundle;
}

export interface ResourceResult {
  status: 200;
  resource: Resource;
}
