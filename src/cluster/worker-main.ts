// The entry point of a cluster worker (the primary forks it with `cluster.setupPrimary({ exec })`).
import { runWorker } from './worker.js';

runWorker();
