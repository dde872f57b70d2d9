"""sketchgen's samples and shards: correspondence between shapes and views (registration, flow), the
triplet and pair builders, WebDataset shards and their manifest, parallel runs, exports to the papers'
layouts. Reads collections from ``ingest`` and draws with ``render``; never imports ``train`` or ``cli``.
"""
