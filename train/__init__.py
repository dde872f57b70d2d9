"""sketchgen's models: shard readers, the multi-view descriptor, the warp estimator, metrics."""
