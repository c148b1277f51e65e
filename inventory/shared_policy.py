"""A PPO policy shared by every SKU: one small network per SKU, a critic pooled over SKUs.

The observation stays the env's flat vector (SB3 needs one shape per VecEnv), laid out as
``F`` per-SKU feature rows of ``P`` values each (feature-major, see :mod:`inventory.env`)
followed by ``C`` shared context numbers. :class:`SkuSetNetwork` reshapes it to
``(batch, P, F)`` plus ``(batch, C)``:

- actor: an MLP applied to every SKU's ``[features, context]`` gives that SKU's mean
  action, so the action is ``(batch, P)``; the exploration ``log_std`` is one scalar;
- critic: the same kind of MLP embeds every SKU, the embeddings are mean-pooled over SKUs
  (a DeepSets critic), concatenated with the context and mapped to the value.

No weight depends on ``P``: a model trained on one catalog acts on another with any number
of SKUs, as long as the feature layout (``F``, ``C``) matches. Shuffling the SKUs of an
instance permutes the actions the same way. The actor's output layer starts at zero, so
the untrained policy's mean action is exactly 0: the anchor rule.
"""

from __future__ import annotations

from typing import Any, cast

import torch as th
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

__all__ = ["SkuSetNetwork", "SharedSkuPolicy"]


def _mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size_in, size_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(size_in, size_out), activation()]
    return nn.Sequential(*layers)


class SkuSetNetwork(nn.Module):
    """Per-SKU actor and pooled critic over a flat ``P * F + C`` observation.

    Plays the role of SB3's ``MlpExtractor``: ``forward_actor`` returns the mean action
    per SKU (``latent_dim_pi = P``, the policy's ``action_net`` is the identity) and
    ``forward_critic`` the pooled latent the policy's ``value_net`` maps to the value.

    Args:
        n_sku_features: ``F``, features per SKU.
        n_context: ``C``, shared context numbers after the SKU blocks.
        n_skus: ``P`` of the spaces this network was built for (only ``latent_dim_pi``).
        hidden: Hidden layer sizes of the per-SKU MLPs and the critic head.
        activation: Activation class.
    """

    def __init__(
        self,
        n_sku_features: int,
        n_context: int,
        n_skus: int,
        hidden: list[int],
        activation: type[nn.Module],
    ) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("the shared policy needs at least one hidden layer (net_arch)")
        self.n_sku_features, self.n_context = n_sku_features, n_context
        width = hidden[-1]
        self.actor_body = _mlp([n_sku_features + n_context, *hidden], activation)
        self.actor_head = nn.Linear(width, 1)
        self.critic_body = _mlp([n_sku_features + n_context, *hidden], activation)
        self.critic_head = _mlp([width + n_context, width], activation)
        self.latent_dim_pi, self.latent_dim_vf = n_skus, width

    def split(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """``(batch, P, F + C)`` per-SKU inputs and the ``(batch, C)`` context."""
        batch, width = features.shape
        n_skus, remainder = divmod(width - self.n_context, self.n_sku_features)
        if remainder or n_skus < 1:
            raise ValueError(
                f"observation of size {width} is not P x {self.n_sku_features} SKU features "
                f"+ {self.n_context} context numbers"
            )
        context = features[:, width - self.n_context :]
        per_sku = features[:, : width - self.n_context]
        per_sku = per_sku.reshape(batch, self.n_sku_features, n_skus).transpose(1, 2)
        tiled = context[:, None, :].expand(batch, n_skus, self.n_context)
        return th.cat([per_sku, tiled], dim=2), context

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        inputs, _ = self.split(features)
        return self.actor_head(self.actor_body(inputs)).squeeze(-1)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        inputs, context = self.split(features)
        pooled = self.critic_body(inputs).mean(dim=1)
        return self.critic_head(th.cat([pooled, context], dim=1))

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)


class SharedSkuPolicy(ActorCriticPolicy):
    """SB3 ``ActorCriticPolicy`` whose networks are shared by every SKU (:class:`SkuSetNetwork`).

    Args:
        observation_space: Flat Box of size ``P * n_sku_features + n_context``.
        action_space: Box of shape ``(P,)``.
        lr_schedule: SB3 learning-rate schedule.
        n_sku_features: ``F``.
        n_context: ``C``.
        **kwargs: ``ActorCriticPolicy`` arguments (``net_arch`` as a list of hidden sizes,
            ``activation_fn``, ``ortho_init``, ``log_std_init``).
    """

    def __init__(
        self,
        observation_space: Any,
        action_space: Any,
        lr_schedule: Any,
        n_sku_features: int,
        n_context: int,
        **kwargs: Any,
    ) -> None:
        self.n_sku_features, self.n_context = int(n_sku_features), int(n_context)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        shape = self.action_space.shape
        if shape is None:
            raise ValueError("the shared policy needs a Box action space of shape (P,)")
        if isinstance(self.net_arch, dict):
            raise ValueError("the shared policy's net_arch is a list of hidden sizes, not a dict")
        self.mlp_extractor = SkuSetNetwork(  # type: ignore[assignment]  # SB3 stubs: MlpExtractor only; this has its interface
            self.n_sku_features,
            self.n_context,
            int(shape[0]),
            list(self.net_arch),
            self.activation_fn,
        )

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        # The actor emits the mean per SKU itself; one exploration scale for all SKUs.
        self.action_net = nn.Identity()
        self.log_std = nn.Parameter(th.full((1,), float(self.log_std_init)))
        actor_head = cast(SkuSetNetwork, self.mlp_extractor).actor_head
        nn.init.zeros_(actor_head.weight)
        nn.init.zeros_(actor_head.bias)
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]  # torch: no lr in the base Optimizer signature
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(n_sku_features=self.n_sku_features, n_context=self.n_context)
        return data
