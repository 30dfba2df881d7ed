# `opa test policies/ -v` (run by packages/policy/test/rego.contract.test.ts, part of `npm test`).
package somaagent.authz_test

import data.somaagent.authz

member := {
	"subject": "user-1",
	"tenantId": "tenant-a",
	"roles": ["member"],
	"capabilities": ["sessions:read", "identity:users:read"],
	"platformAdmin": false,
}

admin := object.union(member, {"subject": "user-2", "roles": ["admin"], "capabilities": ["*"]})

platform := {"subject": "platform-admin", "tenantId": null, "roles": [], "capabilities": ["*"], "platformAdmin": true}

decide(input_doc) := d if {
	d := authz.decision with input as input_doc
}

# --- default deny --------------------------------------------------------------------------

test_unknown_policy_is_denied if {
	d := decide({"policy": "no.such.policy", "subject": admin})
	not d.allow
	d.reasons == ["no policy named \"no.such.policy\": denied by default"]
}

test_no_policy_is_denied if {
	d := decide({"subject": admin})
	not d.allow
	"the request names no policy: denied by default" in d.reasons
}

test_empty_input_is_denied if not decide({}).allow

test_public_needs_nothing if decide({"policy": "public", "subject": null}).allow

# --- capabilities --------------------------------------------------------------------------

test_capability_held if decide({"policy": "capability", "subject": member, "required": ["sessions:read"]}).allow

test_capability_missing if {
	d := decide({"policy": "capability", "subject": member, "required": ["sessions:read", "sessions:write"]})
	not d.allow
	d.reasons == ["missing capability \"sessions:write\": ask a tenant admin to grant it"]
}

test_star_holds_every_capability if {
	decide({"policy": "capability", "subject": admin, "required": ["sessions:write", "personas:write"]}).allow
}

test_capability_needs_a_subject if {
	d := decide({"policy": "capability", "subject": null, "required": ["sessions:read"]})
	d.reasons == ["sign in first: this needs an access token"]
}

test_capability_directive_without_capability_is_denied if {
	not decide({"policy": "capability", "subject": admin, "required": []}).allow
}

test_authenticated if {
	decide({"policy": "authenticated", "subject": member}).allow
	not decide({"policy": "authenticated", "subject": null}).allow
}

# --- tenancy -------------------------------------------------------------------------------

test_member_of_own_tenant if decide({"policy": "tenant.member", "subject": member}).allow

test_member_cannot_touch_another_tenant if {
	d := decide({"policy": "tenant.member", "subject": member, "resource": {"tenantId": "tenant-b"}})
	d.reasons == ["the resource belongs to another tenant"]
}

test_owner_of_own_resource if {
	decide({"policy": "tenant.owner", "subject": member, "resource": {"tenantId": "tenant-a"}}).allow
}

test_owner_needs_a_resource_tenant if {
	d := decide({"policy": "tenant.owner", "subject": member, "resource": {}})
	d.reasons == ["the resource names no tenant, so its owner cannot be checked"]
}

test_admin_of_another_tenant_is_not_owner if {
	not decide({"policy": "tenant.owner", "subject": admin, "resource": {"tenantId": "tenant-b"}}).allow
}

test_tenantless_token_is_not_a_member if {
	no_tenant := object.union(member, {"tenantId": null})
	d := decide({"policy": "tenant.member", "subject": no_tenant})
	d.reasons == ["this acts on a tenant; the token names none"]
}

test_platform_admin_only if {
	decide({"policy": "platform.admin", "subject": platform}).allow
	d := decide({"policy": "platform.admin", "subject": admin})
	d.reasons == ["platform administrators only"]
}

# --- operations and the constitution -------------------------------------------------------

constitutions := {
	"default": {
		"suspended": false,
		"readOnly": false,
		"forbiddenTools": ["shell.exec"],
		"allowedModels": ["*"],
		"maxTokensPerRequest": 4096,
		"blockedContentCategories": ["malware"],
	},
	"tenants": {
		"tenant-a": {"allowedModels": ["soma-tiny"], "maxTokensPerRequest": 256, "forbiddenTools": ["web.fetch"]},
		"tenant-ro": {"readOnly": true},
		"tenant-off": {"suspended": true},
	},
}

with_tenant(t) := object.union(member, {"tenantId": t})

test_operation_allowed_by_default if {
	decide({"policy": "operation", "subject": member, "operation": {"type": "mutation"}}).allow
	decide({"policy": "operation", "subject": null, "operation": {"type": "mutation"}}).allow
}

test_read_only_tenant_cannot_mutate if {
	q := {"policy": "operation", "subject": with_tenant("tenant-ro"), "operation": {"type": "query"}}
	m := {"policy": "operation", "subject": with_tenant("tenant-ro"), "operation": {"type": "mutation"}}
	authz.decision.allow with input as q with data.somaagent.constitutions as constitutions
	d := authz.decision with input as m with data.somaagent.constitutions as constitutions
	d.reasons == ["the tenant's constitution is read-only: mutations are refused"]
}

test_suspended_tenant_can_do_nothing if {
	q := {"policy": "operation", "subject": with_tenant("tenant-off"), "operation": {"type": "query"}}
	d := authz.decision with input as q with data.somaagent.constitutions as constitutions
	d.reasons == ["the tenant is suspended"]
}

test_forbidden_tool_default if {
	d := decide({"policy": "constitution.tool", "subject": member, "tool": {"name": "shell.exec"}})
	d.reasons == ["tool \"shell.exec\" is forbidden by the tenant's constitution"]
	decide({"policy": "constitution.tool", "subject": member, "tool": {"name": "web.fetch"}}).allow
}

test_tenant_overrides_forbidden_tools if {
	i := {"policy": "constitution.tool", "subject": member, "tool": {"name": "web.fetch"}}
	not authz.decision.allow with input as i with data.somaagent.constitutions as constitutions
	j := {"policy": "constitution.tool", "subject": member, "tool": {"name": "shell.exec"}}
	authz.decision.allow with input as j with data.somaagent.constitutions as constitutions
}

test_tool_call_must_name_a_tool if {
	d := decide({"policy": "constitution.tool", "subject": member, "tool": {}})
	d.reasons == ["a tool call must name its tool"]
}

test_allowed_models_and_max_tokens if {
	ok := {"policy": "constitution.model", "subject": member, "model": {"name": "soma-tiny", "maxTokens": 200}}
	authz.decision.allow with input as ok with data.somaagent.constitutions as constitutions
	bad := {"policy": "constitution.model", "subject": member, "model": {"name": "gpt-x", "maxTokens": 300}}
	d := authz.decision with input as bad with data.somaagent.constitutions as constitutions
	d.reasons == [
		"300 tokens per request exceed the tenant's limit of 256",
		"model \"gpt-x\" is not allowed by the tenant's constitution",
	]
}

test_persona_arguments_checked_against_the_constitution if {
	i := {"policy": "constitution.persona", "subject": member, "args": {"input": {"model": "soma-tiny"}}}
	d := authz.decision with input as i with data.somaagent.constitutions as constitutions
	d.reasons == ["512 tokens per request exceed the tenant's limit of 256"]
	decide({"policy": "constitution.persona", "subject": member, "args": {"input": {"model": "any", "maxTokens": 4096}}}).allow
}

test_model_request_without_a_model_is_denied if {
	d := decide({"policy": "constitution.persona", "subject": member, "args": {"model": "flat-args"}})
	d.reasons == ["a model request must name its model"]
	e := decide({"policy": "constitution.model", "subject": member})
	e.reasons == ["a model request must name its model"]
}

test_blocked_content if {
	d := decide({"policy": "constitution.content", "subject": member, "content": {"categories": ["malware", "news"]}})
	d.reasons == ["content category \"malware\" is blocked by the tenant's constitution"]
	decide({"policy": "constitution.content", "subject": member, "content": {"categories": ["news"]}}).allow
}

test_decision_names_its_policy if decide({"policy": "public"}).policy == "public"
