-- Who started a run, as the policy engine sees them (PolicySubject: subject, tenantId, roles,
-- capabilities, platformAdmin, authMethod, plus the token's issuer). Each step of the run is
-- checked against the capsule's policies and the tenant's constitution as this subject, and
-- memory-recall steps search what this subject may see. NULL for runs started before this
-- migration: their gated steps are denied (no subject: "sign in first").
ALTER TABLE capsules.runs ADD COLUMN started_as jsonb;
