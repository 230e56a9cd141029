"""Reputation thresholds of a stack: ``mailfleet:reputation`` in ``Pulumi.<stack>.yaml``.

Every key is optional; the defaults and where they come from (docs/reputation.md):

- ``bounce_warn`` 2.0 and ``bounce_fail`` 5.0 (percent of processed mail that bounced):
  Amazon SES's reputation guidance, "keep the bounce rate below 2%"; at 5% an SES account is
  placed under review. Mailgun publishes no bounce limit of its own.
- ``complaint_warn`` 0.1 and ``complaint_fail`` 0.3 (percent of delivered mail reported as
  spam): Google's email sender guidelines ("keep spam rates below 0.10% and avoid ever
  reaching 0.30%"), which Yahoo's sender requirements repeat; Mailgun's own metric
  definitions say the complaint rate "should be kept below 0.1%".
- ``min_delivered`` 500: below that many delivered messages in the window a rate says little
  (one complaint in 300 deliveries is 0.33%), so the domain is "not enough mail", not ok.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Percent = Annotated[float, Field(ge=0, le=100)]


class ReputationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    bounce_warn: Percent = 2.0
    bounce_fail: Percent = 5.0
    complaint_warn: Percent = 0.1
    complaint_fail: Percent = 0.3
    min_delivered: Annotated[int, Field(ge=0)] = 500

    @model_validator(mode="after")
    def _warn_below_fail(self) -> ReputationSettings:
        if self.bounce_warn > self.bounce_fail:
            raise ValueError(f"bounce_warn ({self.bounce_warn}) is above bounce_fail ({self.bounce_fail})")
        if self.complaint_warn > self.complaint_fail:
            raise ValueError(
                f"complaint_warn ({self.complaint_warn}) is above complaint_fail ({self.complaint_fail})"
            )
        return self
