"""sketchgen's data side: collections, correspondence, sampling, shards, parallel runs."""
