"use strict";
// Mocha's spec reporter, closed by the plain line CI reads: "N passed, N failed".
const Mocha = require("mocha");

const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const stats = runner.stats ?? { passes: 0, failures: 0 };
      process.stdout.write(`${stats.passes} passed, ${stats.failures} failed\n`);
    });
  }
}

module.exports = SummaryReporter;
