# SomaAgent's authorization policy: one decision document for every question the platform asks
# (a GraphQL operation, a field carrying @policy/@requiresCapability, a tool call, a model call).
#
# Input (every key optional except `policy`):
#   policy      name of the rule asked, e.g. "capability", "tenant.owner", "constitution.tool"
#   subject     verified claims ({subject, tenantId, roles, capabilities, platformAdmin}) or null
#   operation   {type: "query"|"mutation"|"subscription", name, rootFields}
#   field       {parentType, name, path}           (path without list indices)
#   args        field arguments
#   required    capabilities demanded by @requiresCapability
#   resource    {tenantId} of the thing acted on
#   tool        {name}            model {name, maxTokens}            content {categories}
#
# Output: data.somaagent.authz.decision = {allow, reasons, policy}. Anything not explicitly
# allowed is denied: an unknown policy name, a missing subject, a malformed input.
#
# Messages quote with "%s", never %q: the wasm SDK's sprintf (sprintf-js) has no %q, and the two
# evaluators must say the same thing (packages/policy/test/policyEvaluator.contract.test.ts).
package somaagent.authz

import data.somaagent.constitutions

# Every policy name a directive or a caller may use. Anything else is denied by default.
known_policies := {
	"public",
	"authenticated",
	"capability",
	"tenant.member",
	"tenant.owner",
	"platform.admin",
	"operation",
	"constitution.persona",
	"constitution.tool",
	"constitution.model",
	"constitution.content",
}

default allow := false

allow if {
	input.policy in known_policies
	count(reasons) == 0
}

decision := {
	"allow": allow,
	"policy": object.get(input, "policy", null),
	"reasons": sort([r | some r in reasons]),
}

# ---------------------------------------------------------------------------------------------
# Default deny.

reasons contains msg if {
	not is_string(object.get(input, "policy", null))
	msg := "the request names no policy: denied by default"
}

reasons contains msg if {
	is_string(input.policy)
	not input.policy in known_policies
	msg := sprintf("no policy named \"%s\": denied by default", [input.policy])
}

# ---------------------------------------------------------------------------------------------
# Who is asking.

subject := s if {
	s := input.subject
	is_object(s)
}

authenticated if subject.subject

platform_admin if subject.platformAdmin == true

subject_tenant := t if {
	t := subject.tenantId
	is_string(t)
}

holds(_) if "*" in subject.capabilities

holds(capability) if capability in subject.capabilities

needs_subject := {
	"authenticated",
	"capability",
	"tenant.member",
	"tenant.owner",
	"platform.admin",
	"constitution.persona",
	"constitution.tool",
	"constitution.model",
	"constitution.content",
}

reasons contains "sign in first: this needs an access token" if {
	input.policy in needs_subject
	not authenticated
}

# ---------------------------------------------------------------------------------------------
# Capabilities (@requiresCapability): every listed capability must be held ('*' holds all).

required_capabilities := {c | some c in input.required}

reasons contains "@requiresCapability names no capability" if {
	input.policy == "capability"
	count(required_capabilities) == 0
}

reasons contains msg if {
	input.policy == "capability"
	authenticated
	some c in required_capabilities
	not holds(c)
	msg := sprintf("missing capability \"%s\": ask a tenant admin to grant it", [c])
}

# ---------------------------------------------------------------------------------------------
# Tenancy. A member acts on a tenant; an owner acts on a resource of their own tenant.

resource_tenant := t if {
	t := input.resource.tenantId
	is_string(t)
}

reasons contains "this acts on a tenant; the token names none" if {
	input.policy in {"tenant.member", "tenant.owner"}
	authenticated
	not subject_tenant
	not platform_admin
}

reasons contains "the resource belongs to another tenant" if {
	input.policy in {"tenant.member", "tenant.owner"}
	subject_tenant
	resource_tenant
	resource_tenant != subject_tenant
}

reasons contains "the resource names no tenant, so its owner cannot be checked" if {
	input.policy == "tenant.owner"
	authenticated
	not resource_tenant
}

reasons contains "platform administrators only" if {
	input.policy == "platform.admin"
	authenticated
	not platform_admin
}

# ---------------------------------------------------------------------------------------------
# The tenant's constitution (data.somaagent.constitutions): the tenant's own entries override
# the platform default key by key.

constitution := object.union(constitutions.default, object.get(constitutions.tenants, subject_tenant, {})) if {
	subject_tenant
} else := constitutions.default

# Every operation: a suspended tenant can do nothing; a read-only tenant cannot mutate.
reasons contains "the tenant is suspended" if {
	input.policy == "operation"
	constitution.suspended == true
}

reasons contains "the tenant's constitution is read-only: mutations are refused" if {
	input.policy == "operation"
	constitution.readOnly == true
	input.operation.type == "mutation"
}

# Tool calls.
reasons contains msg if {
	input.policy == "constitution.tool"
	name := input.tool.name
	name in constitution.forbiddenTools
	msg := sprintf("tool \"%s\" is forbidden by the tenant's constitution", [name])
}

reasons contains msg if {
	input.policy == "constitution.tool"
	name := object.get(input, ["tool", "name"], null)
	not is_string(name)
	msg := "a tool call must name its tool"
}

# Model use: by a persona being created, or by a model call.
model_request := {"name": input.args.input.model, "maxTokens": object.get(input.args.input, "maxTokens", 512)} if {
	input.policy == "constitution.persona"
} else := input.model if {
	input.policy == "constitution.model"
}

model_allowed(_) if "*" in constitution.allowedModels

model_allowed(name) if name in constitution.allowedModels

reasons contains msg if {
	input.policy in {"constitution.persona", "constitution.model"}
	name := model_request.name
	not model_allowed(name)
	msg := sprintf("model \"%s\" is not allowed by the tenant's constitution", [name])
}

reasons contains msg if {
	input.policy in {"constitution.persona", "constitution.model"}
	model_request.maxTokens > constitution.maxTokensPerRequest
	msg := sprintf(
		"%d tokens per request exceed the tenant's limit of %d",
		[model_request.maxTokens, constitution.maxTokensPerRequest],
	)
}

# A helper rule, not `not is_string(...)` inline: the compiler hoists the call out of the
# negation, and an undefined model_request would then silently skip this reason.
model_named if is_string(model_request.name)

reasons contains "a model request must name its model" if {
	input.policy in {"constitution.persona", "constitution.model"}
	not model_named
}

# Content: categories a classifier attached to a message or a tool result.
reasons contains msg if {
	input.policy == "constitution.content"
	some category in input.content.categories
	category in constitution.blockedContentCategories
	msg := sprintf("content category \"%s\" is blocked by the tenant's constitution", [category])
}
