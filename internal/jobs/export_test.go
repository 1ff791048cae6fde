package jobs

// RecordAttempts is recordAttempts, for tests.
const RecordAttempts = recordAttempts
