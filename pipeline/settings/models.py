"""Which inference engine runs the models, and in what precision (``models`` in the settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.settings.base import Strict

EngineChoice = Literal["auto", "onnxruntime", "openvino"]
PrecisionChoice = Literal["auto", "f32", "bf16"]

_ENGINE_HELP = (
    "auto: OpenVINO when it imports and the CPU computes bf16 natively (AMX, AVX512-BF16), else "
    "onnxruntime; onnxruntime; openvino (onnxruntime, with one log line, if it cannot be imported)."
)
_PRECISION_HELP = (
    "OpenVINO's precision: auto (bf16 where the CPU computes it natively, else f32), f32 or bf16. "
    "onnxruntime computes in f32."
)


class ModelEngine(Strict):
    """One model's engine and precision; None keeps the section's own."""

    engine: EngineChoice | None = Field(None, description=_ENGINE_HELP)
    precision: PrecisionChoice | None = Field(None, description=_PRECISION_HELP)

    @model_validator(mode="after")
    def _f32_on_onnxruntime(self) -> ModelEngine:
        if self.engine == "onnxruntime" and self.precision == "bf16":
            raise ValueError("precision bf16 needs engine openvino (or auto); onnxruntime computes in f32")
        return self


class ModelsSettings(Strict):
    engine: EngineChoice = Field("onnxruntime", description=_ENGINE_HELP)
    precision: PrecisionChoice = Field("auto", description=_PRECISION_HELP)
    per_model: dict[str, ModelEngine] = Field(
        default_factory=dict,
        description="Engine or precision of one model (registry name), e.g. "
        "{ppocr_v6_rec: {precision: f32}} or {yunet: {engine: onnxruntime}}.",
    )

    @model_validator(mode="after")
    def _f32_on_onnxruntime(self) -> ModelsSettings:
        if self.engine == "onnxruntime" and self.precision == "bf16":
            raise ValueError("precision bf16 needs engine openvino (or auto); onnxruntime computes in f32")
        for name, override in self.per_model.items():  # a model moved to onnxruntime computes in f32
            if override.precision == "bf16" and (override.engine or self.engine) == "onnxruntime":
                raise ValueError(f"per_model.{name}: precision bf16 needs engine openvino (or auto)")
        return self

    def for_model(self, name: str) -> tuple[EngineChoice, PrecisionChoice]:
        """The engine and precision ``name`` (a registry name) runs with, ``auto`` still unresolved."""
        override = self.per_model.get(name)
        if override is None:
            return self.engine, self.precision
        return override.engine or self.engine, override.precision or self.precision
