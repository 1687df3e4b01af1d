"""Which torch device the lessons run on."""
import os

from course.i18n import translate


def device(verbose=True):
    """torch.device("cuda") when a CUDA GPU is visible, else torch.device("cpu").

    Set RNN_COURSE_DEVICE=cpu to force the CPU. Prints one line saying what was chosen.
    """
    import torch

    forced = os.environ.get("RNN_COURSE_DEVICE")
    if forced:
        chosen = torch.device(forced)
        why = f"forced by RNN_COURSE_DEVICE={forced}"
    elif torch.cuda.is_available():
        chosen = torch.device("cuda")
        why = torch.cuda.get_device_name(0)
    else:
        chosen = torch.device("cpu")
        why = "no CUDA GPU found; every part of the course runs on the CPU too"
    if verbose:
        print(translate(f"course.device(): using {chosen.type.upper()} ({why})"))
    return chosen


def exact_float32():
    """Turn TF32 off, so float32 matrix products on a GPU are IEEE float32 on both sides of a comparison.

    On Ampere and later GPUs cuDNN's RNNs default to TF32 (10-bit mantissa); a hand-written layer
    then differs from nn.LSTM by ~1e-3 for reasons that have nothing to do with its correctness.
    """
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
