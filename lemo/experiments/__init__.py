"""Online metrics of experiments: counters per scenario and variant (counts), attribution of events to the list
they followed, and the statistics of a readout (stats, readout). docs/experiments.md says what each number means."""
