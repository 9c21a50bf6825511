"""LogDig's core: the event contract, message packing, queue and lake interfaces, and the drain.

Shared by the collector (app/) and the batcher (lambda_sqs_to_s3/), so both modes run one code path.
"""
