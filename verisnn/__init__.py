"""verisnn: make trained spiking neural networks auditable.

Exact integer semantics (:mod:`verisnn.semantics`), a reference simulator
(:mod:`verisnn.simulator`), model format v1 (:mod:`verisnn.model_format`),
training and quantization, NIR import/export, and a command line.
"""

from .encoders import DeltaEncoder, LatencyEncoder, RateEncoder, encoder_from_spec
from .errors import InputError, ModelError, NIRError, VerisnnError
from .model import Conv2d, Dense, InputSpec, Model, Neuron, Readout
from .model_format import load_model, model_from_dict, model_hash, model_to_dict, save_model
from .simulator import SimResult, simulate

__version__ = "0.1.0"

__all__ = [
    "Conv2d", "DeltaEncoder", "Dense", "InputError", "InputSpec", "LatencyEncoder", "Model", "ModelError",
    "NIRError", "Neuron", "RateEncoder", "Readout", "SimResult", "VerisnnError", "encoder_from_spec", "load_model",
    "model_from_dict", "model_hash", "model_to_dict", "save_model", "simulate",
]
