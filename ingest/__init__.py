"""sketchgen's collections: mesh files in the layouts users bring (ShapeNet-Part, PartNet, PSB, COSEG,
KeypointNet, plain meshes with label files) or the bundled procedural shapes, read into ``PartMesh``
records (part labels, keypoints, the unit-sphere frame) with every failure recorded; the collection index
and shape cache; orientation; surface sampling. Never imports ``datagen``, ``train`` or ``cli``.
"""
