/**
 * A body worker thread (piscina runs it; see body-work-pool.ts): builds its
 * BodyChecker once from the pool's settings, then runs one task per call.
 */
import { workerData } from 'piscina';
import { BodyChecker, type BodyCheckSettings, type BodyTask } from './body-checker.js';

const checker = new BodyChecker(workerData as BodyCheckSettings);

export default function run(task: BodyTask): ReturnType<BodyChecker['run']> {
  return checker.run(task);
}
