r"""Probabilistic "buy till you die" (BTYD) customer-base models.

Per-customer forecasts of repeat purchasing, survival and spend from each
customer's recency-frequency-monetary summary:

* :func:`rfm_summary` turns a :class:`~custrel.TransactionLog` into
  frequency, recency, T and mean repeat spend per customer (with an optional
  calibration / holdout split), and :meth:`BTYDSummary.compressed` merges
  identical customers into weighted rows;
* :func:`fit_bgnbd` (BG/NBD, Fader, Hardie & Lee 2005), :func:`fit_mbgnbd`
  (MBG/NBD, Batislam, Denizel & Filiztekin 2007) and :func:`fit_pareto_nbd`
  (Pareto/NBD, Schmittlein, Morrison & Colombo 1987) model repeat purchases
  in continuous time; :func:`fit_bgbb` (BG/BB, Fader, Hardie & Shang 2010)
  does so for discrete transaction opportunities; :func:`fit_gamma_gamma`
  (Fader, Hardie & Lee 2005) models the spend per transaction;
* every fit is a maximum-likelihood fit with analytic gradients in log space,
  accepts ``weights`` and returns a frozen model with ``params`` (the papers'
  own names), ``log_likelihood`` and ``standard_errors`` (from the Hessian),
  whose methods predict for many customers at once;
* :func:`frequency_recency_matrix`, :func:`calibration_holdout_comparison`
  and :func:`repeat_purchase_histogram` are the classic diagnostics as data
  (figures in :mod:`custrel.plot`).

Vocabulary (lifetimes / pymc-marketing): ``frequency`` is the number of
*repeat* purchases (purchase periods after the first), ``recency`` the age of
the customer at the last purchase (time from the first to the last purchase),
``T`` the age at the end of the observation window (time from the first
purchase to the end), ``monetary_value`` the mean spend of the repeat
purchases. Times are in one unit throughout (for example weeks).

Examples
--------
>>> from custrel import BGNBDModel, fit_bgnbd
>>> truth = BGNBDModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
>>> sim = truth.simulate(5000, T=39.0, rng=1)
>>> model = fit_bgnbd(sim.frequency, sim.recency, sim.T, weights=sim.weights)
>>> round(model.params["r"], 1), round(model.params["alpha"], 0)
(0.2, 4.0)
>>> model.probability_alive([0, 3], [0.0, 10.0], [39.0, 39.0]).round(2).tolist()
[1.0, 0.14]
"""

# The package's layout (one module per model family, plus the shared machinery):
#   _common       special functions, weights, column validation, start values, simulation helpers
#   _summary      rfm_summary and BTYDSummary
#   _base         BTYDModel and RepeatPurchaseModel (the shared prediction API)
#   _nbd          BG/NBD and MBG/NBD
#   _pnbd_math    the Pareto/NBD mathematics; _pareto_nbd the model and its fit
#   _pnbd_cor     Pareto/NBD with correlated purchase and dropout rates (Sarmanov)
#   _ggomnbd      GGompertz/NBD
#   _bgbb         BG/BB
#   _gamma_gamma  Gamma-Gamma spend
#   _predictions  conditional purchase-count pmf, DERT, P(alive) paths, tracking, new customers
#   _uncertainty  delta-method and bootstrap intervals, the parameter summary table
#   _covariates   time-invariant covariates: validation, the fit driver, the covariate-model base;
#                 _pnbd_cov, _bgnbd_cov, _ggomnbd_cov, _gg_cov the covariate forms of each family
#   _dyncov       Pareto/NBD with time-varying covariates (_dyncov_data: the per-period
#                 covariate table; _dyncov_math: the walks, likelihood and gradient)
#   _diagnostics  frequency-recency matrix, calibration/holdout comparison, histogram

from __future__ import annotations

from custrel.btyd._base import BTYDModel, RepeatPurchaseModel
from custrel.btyd._bgbb import BGBBModel, fit_bgbb
from custrel.btyd._bgnbd_cov import BGNBDCovariateModel
from custrel.btyd._diagnostics import (
    FrequencyRecencyMatrix,
    HoldoutComparison,
    RepeatPurchaseHistogram,
    calibration_holdout_comparison,
    frequency_recency_matrix,
    repeat_purchase_histogram,
)
from custrel.btyd._dyncov import (
    DynamicCovariateData,
    ParetoNBDDynCovModel,
    dynamic_covariate_data,
    fit_pareto_nbd_dyncov,
)
from custrel.btyd._gamma_gamma import GammaGammaModel, fit_gamma_gamma
from custrel.btyd._gg_cov import GammaGammaCovariateModel
from custrel.btyd._ggomnbd import GGompertzNBDModel, fit_ggomnbd
from custrel.btyd._ggomnbd_cov import GGompertzNBDCovariateModel
from custrel.btyd._nbd import BGNBDModel, MBGNBDModel, fit_bgnbd, fit_mbgnbd
from custrel.btyd._pareto_nbd import ParetoNBDModel, fit_pareto_nbd
from custrel.btyd._pnbd_cor import ParetoNBDCorrelatedModel, fit_pareto_nbd_correlated
from custrel.btyd._pnbd_cov import ParetoNBDCovariateModel
from custrel.btyd._predictions import AlivePath, TrackingResult
from custrel.btyd._summary import BTYDSummary, rfm_summary
from custrel.btyd._uncertainty import (
    BootstrapResult,
    IntervalResult,
    ParameterSummary,
    PredictionIntervals,
    bootstrap,
    delta_interval,
    prediction_intervals,
)

__all__ = [
    "AlivePath",
    "BGBBModel",
    "BGNBDCovariateModel",
    "BGNBDModel",
    "BTYDModel",
    "BTYDSummary",
    "BootstrapResult",
    "DynamicCovariateData",
    "FrequencyRecencyMatrix",
    "GGompertzNBDCovariateModel",
    "GGompertzNBDModel",
    "GammaGammaCovariateModel",
    "GammaGammaModel",
    "HoldoutComparison",
    "IntervalResult",
    "MBGNBDModel",
    "ParameterSummary",
    "ParetoNBDCorrelatedModel",
    "ParetoNBDCovariateModel",
    "ParetoNBDDynCovModel",
    "ParetoNBDModel",
    "PredictionIntervals",
    "RepeatPurchaseHistogram",
    "RepeatPurchaseModel",
    "TrackingResult",
    "bootstrap",
    "calibration_holdout_comparison",
    "delta_interval",
    "dynamic_covariate_data",
    "fit_bgbb",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_ggomnbd",
    "fit_mbgnbd",
    "fit_pareto_nbd",
    "fit_pareto_nbd_correlated",
    "fit_pareto_nbd_dyncov",
    "frequency_recency_matrix",
    "prediction_intervals",
    "repeat_purchase_histogram",
    "rfm_summary",
]
