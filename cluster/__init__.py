"""The parameter-server training runtime, installed as ``dtf.cluster``.

``dtf.distribute.ParameterServerStrategy`` is the public API; this package is what runs behind
it: the driver/coordinator, parameter-server actors (variables sharded across them, the
optimizer applied where the variables live), worker actors (a model replica and a data shard
each, sending gradients), sharding, transport (Ray's object store; gRPC + msgpack), checkpoints
and the launcher CLI, on Ray (a real cluster or an embedded local one) or in-process.

It arrives with the distributed-training work and is empty until then.
"""
