"""Where moto (5.2, server mode) parts from AWS in a way a CDK deploy trips on, and what the rehearsal's moto server
does instead. Each is moto's fault, corrected here for the rehearsal only, never in the constructs:

- A resource that fails to create makes ExecuteChangeSet answer 500; the SDK retries it, and moto, finding nothing
  left to add, marks the stack CREATE_COMPLETE: the CLI reports a deploy that failed as done. Fixed as AWS does it:
  ExecuteChangeSet succeeds, the resource gets a CREATE_FAILED event with moto's error as its reason, and the stack
  ends in ROLLBACK_COMPLETE, which the CLI reports as a failed deploy (moto rolls nothing back).
- A resource that fails to delete makes DeleteStack answer 500 after moto has already dropped the stack: the retry
  finds no stack and the CLI reports it destroyed. Fixed: the stack stays, DELETE_FAILED, with the resource's
  DELETE_FAILED event and moto's error as its reason.
- A stack created from a change set (as the CDK CLI creates every stack) has no outputs: moto builds them when a stack
  is created or updated directly, not when a change set is executed. The CLI then reports "Unable to find
  BootstrapVersion output in the toolkit stack", and a stack's own outputs are lost. Fixed: outputs are built after
  the change set is applied.
- A ``Ref`` to an ``AWS::Lambda::LayerVersion`` gives moto's object instead of the layer version's ARN, and moto's
  ``AWS::Lambda::Function`` ignores ``Layers``: a deployed function runs without its layers, unchecked. Fixed: the
  layer version's physical id is its ARN, the function gets its layers (moto refuses an ARN it does not hold), and the
  layer version is deleted with its stack.
- When a DynamoDB stream has an event source mapping, moto invokes the function itself on every write (in Docker,
  which the rehearsal does without) and then empties the stream, failed invocation or not. AWS keeps a stream's
  records for 24 hours for every reader. Fixed: moto invokes nothing and the records stay, so ``run --aws`` reads them
  as it would in an account.
- moto creates a change set's resources in the template's order, following Ref and Fn::GetAtt as it goes but not
  DependsOn; CloudFormation creates each resource after everything it depends on. Fixed: a change set's new
  resources are created in dependency order (``creation_order``), so that ``moto_permissions`` sees each event
  source mapping's role as CloudFormation would leave it at that point.
- moto's ``AWS::IAM::Role`` ignores ``ManagedPolicyArns``, and moto creates an event source mapping whatever its
  function's role may do: see ``moto_permissions``.
- A resource type moto's CloudFormation lacks is skipped with a warning; a ``Ref`` to it gives null and an
  ``Fn::GetAtt`` fails the stack. Types moto serves the service of are created by ``moto_resources``; any other type
  (and a custom resource, whose handler moto would run in Docker) is *left out*: nothing is created, and its ``Ref``
  and attributes give made-up names and ARNs so that the rest of its stack deploys. ``left_out`` says which types.

A fault of moto's that the CLI has a setting for is worked around in the CLI's environment instead (see
``rehearse.cli_environment``): moto's CloudFormation reads a ``TemplateURL`` on a loopback address as
virtual-hosted (bucket ``127``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scripts.rehearsal.moto_permissions import MappingWithPermissionCheck, RoleWithManagedPolicies
from scripts.rehearsal.moto_resources import ADDED_TYPES, use_endpoint

__all__ = ["LeftOut", "ResourceCreateFailed", "ResourceDeleteFailed", "creation_order", "install", "left_out"]

_INSTALLED: dict[str, Any] = {}


class LeftOut:
    """A resource of a type neither moto nor ``moto_resources`` creates: nothing is made; ``Ref`` gives a generated
    name and every attribute an ARN-shaped string of the type's service, so that references to it resolve."""

    def __init__(self, name: str, resource_type: str, account_id: str, region: str) -> None:
        self.name = name
        self.resource_type = resource_type
        service = resource_type.split("::")[1].lower() if resource_type.startswith("AWS::") else "cloudformation"
        self.arn = f"arn:aws:{service}:{region}:{account_id}:{name}"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> LeftOut:
        return cls(resource_name, kwargs.get("ResourceType", cloudformation_json["Type"]), account_id, region_name)

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return True

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def get_cfn_attribute(self, attribute: str) -> str:
        return self.arn

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        """Nothing was created."""


class ResourceCreateFailed(Exception):
    """moto could not create the resource ``logical_id`` of type ``resource_type``."""

    STATUS = "CREATE_FAILED"

    def __init__(self, logical_id: str, resource_type: str, error: Exception) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {type(error).__name__}: {error}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = f"{type(error).__name__}: {error}"


class ResourceDeleteFailed(ResourceCreateFailed):
    """moto could not delete the resource ``logical_id`` of type ``resource_type``."""

    STATUS = "DELETE_FAILED"


def _is_custom(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


def left_out(resource_type: str) -> bool:
    """Whether the rehearsal's moto leaves resources of ``resource_type`` out (creates nothing for them)."""
    from moto.cloudformation.parsing import get_model_map

    if resource_type in _FIXED_TYPES:
        return False
    # moto's own null models (wait conditions) are left out too: their Ref gives null in moto.
    return _is_custom(resource_type) or resource_type not in get_model_map()


class _FunctionWithLayers:
    """moto's ``AWS::Lambda::Function``, with the template's ``Layers`` attached."""

    TYPE = "AWS::Lambda::Function"

    @staticmethod
    def cloudformation_type() -> str:
        return _FunctionWithLayers.TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return "FunctionName"

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        from moto.awslambda.models import LambdaFunction

        return LambdaFunction.has_cfn_attr(attribute)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        from moto.awslambda.models import LambdaFunction

        function = LambdaFunction.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        layers = cloudformation_json["Properties"].get("Layers")
        if layers:
            function.update_configuration({"Layers": layers})
        return function


_FIXED_TYPES: dict[str, Any] = {
    **ADDED_TYPES,
    **{kind.TYPE: kind for kind in (_FunctionWithLayers, RoleWithManagedPolicies, MappingWithPermissionCheck)},
}


def _references(value: Any) -> set[str]:
    """The logical ids ``value`` refers to: Ref, Fn::GetAtt, and ${Name} or ${Name.Attribute} in Fn::Sub."""
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, inner in value.items():
        if key == "Ref" and isinstance(inner, str):
            found.add(inner)
        elif key == "Fn::GetAtt":
            found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
        elif key == "Fn::Sub":
            template = inner[0] if isinstance(inner, list) else inner
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", template)}
            found |= _references(inner[1]) if isinstance(inner, list) else set()
        else:
            found |= _references(inner)
    return found


def creation_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The logical ids of ``resources`` in an order CloudFormation may create them: each after what it depends on
    (DependsOn, Ref, Fn::GetAtt, Fn::Sub), otherwise in the template's order."""
    order: list[str] = []
    placed: set[str] = set()

    def place(logical_id: str, path: tuple[str, ...]) -> None:
        if logical_id in placed or logical_id in path:
            return
        resource = resources[logical_id]
        depends_on = resource.get("DependsOn", [])
        dependencies = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        dependencies |= _references(resource.get("Properties", {}))
        for dependency in sorted(dependencies & resources.keys()):
            place(dependency, (*path, logical_id))
        placed.add(logical_id)
        order.append(logical_id)

    for logical_id in resources:
        place(logical_id, ())
    return order


def _record_failure(stack: Any, failure: ResourceCreateFailed, final_status: str) -> None:
    """The failed resource's event, then the stack's ``final_status``."""
    from moto.cloudformation.models import Event

    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=failure.logical_id,
            physical_resource_id="",
            resource_type=failure.resource_type,
            resource_status=failure.STATUS,
            resource_status_reason=failure.reason,
            resource_properties=None,
        )
    )
    stack._add_stack_event(final_status, resource_status_reason=failure.reason)
    stack.status = final_status


def _fail_stack(backend: Any, change_set_name: str, stack_name: str | None, failure: ResourceCreateFailed) -> None:
    """The change set's stack failed on ``failure``'s resource: its event, then ROLLBACK_COMPLETE (or
    UPDATE_ROLLBACK_COMPLETE), as CloudFormation reports a stack whose resource failed."""
    # By ARN, or by name within the stack: the CLI names every stack's change set alike (cdk-deploy-change-set).
    change_set = (
        backend.change_sets.get(change_set_name)
        or [
            each
            for each in backend.change_sets.values()
            if each.change_set_name == change_set_name and stack_name in (each.stack_name, each.stack_id)
        ][-1]
    )
    final = "ROLLBACK_COMPLETE" if change_set.change_set_type == "CREATE" else "UPDATE_ROLLBACK_COMPLETE"
    _record_failure(change_set.stack, failure, final)
    change_set.execution_status = "EXECUTE_FAILED"


def _replace(owner: Any, name: str, replacement: Any) -> None:
    """moto's ``owner.name`` becomes ``replacement`` in this process."""
    setattr(owner, name, replacement)


def install(endpoint_url: str) -> None:
    """Apply the fixes to moto in this process, whose server answers at ``endpoint_url``. Idempotent."""
    use_endpoint(endpoint_url)
    if _INSTALLED:
        return
    from moto.awslambda import models as awslambda
    from moto.awslambda.utils import get_backend
    from moto.cloudformation import models as cloudformation
    from moto.cloudformation import parsing

    moto_resource_class = parsing.resource_class_from_type
    moto_name_property = parsing.resource_name_property_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type in _FIXED_TYPES:
            return _FIXED_TYPES[resource_type]
        if left_out(resource_type):
            return LeftOut
        return moto_resource_class(resource_type)

    def resource_name_property_from_type(resource_type: str) -> str | None:
        if resource_type in _FIXED_TYPES:
            return str(_FIXED_TYPES[resource_type].cloudformation_name_type()) or None
        return moto_name_property(resource_type)

    _replace(parsing, "resource_class_from_type", resource_class_from_type)
    _replace(parsing, "resource_name_property_from_type", resource_name_property_from_type)

    apply_change_set = cloudformation.ChangeSet.apply

    def apply_with_outputs(change_set: Any) -> None:
        apply_change_set(change_set)
        stack = change_set.stack
        stack.template = change_set.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    _replace(cloudformation.ChangeSet, "apply", apply_with_outputs)

    build_resource_diff = parsing.ResourceMap.build_resource_diff

    def diff_in_creation_order(resource_map: Any, other_template: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        actions = build_resource_diff(resource_map, other_template, *args, **kwargs)
        added = set(actions["Add"])
        actions["Add"] = [name for name in creation_order(other_template["Resources"]) if name in added]
        return actions

    _replace(parsing.ResourceMap, "build_resource_diff", diff_in_creation_order)

    create_resource = parsing.parse_and_create_resource

    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return create_resource(logical_id, resource_json, *args, **kwargs)
        except ResourceCreateFailed:
            raise
        except Exception as error:
            raise ResourceCreateFailed(logical_id, resource_json.get("Type", "?"), error) from error

    _replace(parsing, "parse_and_create_resource", parse_and_create_resource)

    execute_change_set = cloudformation.CloudFormationBackend.execute_change_set

    def execute_or_fail(backend: Any, change_set_name: str, stack_name: str | None = None) -> None:
        try:
            execute_change_set(backend, change_set_name, stack_name)
        except ResourceCreateFailed as failure:
            _fail_stack(backend, change_set_name, stack_name, failure)

    _replace(cloudformation.CloudFormationBackend, "execute_change_set", execute_or_fail)

    delete_resource = parsing.ResourceMap._delete_resource

    def delete_naming_the_resource(resource_map: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
        try:
            delete_resource(resource_map, parsed_resource, resource_json)
        except Exception as error:
            logical_id = getattr(parsed_resource, "logical_resource_id", "?")
            raise ResourceDeleteFailed(logical_id, resource_json.get("Type", "?"), error) from error

    _replace(parsing.ResourceMap, "_delete_resource", delete_naming_the_resource)

    delete_stack = cloudformation.CloudFormationBackend.delete_stack

    def delete_or_fail(backend: Any, name_or_stack_id: str) -> None:
        stacks = dict(backend.stacks)
        try:
            delete_stack(backend, name_or_stack_id)
        except ResourceDeleteFailed as failure:
            for stack_id, stack in stacks.items():
                if stack_id not in backend.stacks and stack_id not in backend.deleted_stacks:
                    backend.stacks[stack_id] = stack
                    _record_failure(stack, failure, "DELETE_FAILED")

    _replace(cloudformation.CloudFormationBackend, "delete_stack", delete_or_fail)

    def delete_layer_version(layer_version: Any, account_id: str, region_name: str) -> None:
        get_backend(account_id, region_name).delete_layer_version(layer_version.name, layer_version.version)

    _replace(awslambda.LayerVersion, "physical_resource_id", property(lambda layer_version: layer_version.arn))
    _replace(awslambda.LayerVersion, "delete", delete_layer_version)

    def send_dynamodb_items(backend: Any, function_arn: str, items: list[Any], source: str) -> None:
        return None  # the records stay in the stream; nothing is invoked

    # LambdaSimpleBackend (moto's Lambda without Docker) is a LambdaBackend: both are covered.
    _replace(awslambda.LambdaBackend, "send_dynamodb_items", send_dynamodb_items)
    _INSTALLED["moto"] = True
