"""ARM handlers for Azure Migrate projects (Microsoft.Migrate/migrateProjects, api-version 2018-09-01-preview)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from hub.arm.errors import ArmError
from hub.arm.routes import RG, at_both_scopes
from hub.arm.schema import create_or_update
from hub.arm.views import arm_list, deletion, existence, put_answer, validated
from projects import access, services
from projects.arm import responses
from projects.arm.resource_manager import TagsField
from projects.arm.scopes import ScopeView
from projects.models import MigrateProject, Solution


def _summary(project: MigrateProject) -> dict:
    # Counts arrive with Discover and Replicate; until then a project has nothing to count.
    return {
        "instanceType": "Servers",
        "discoveredCount": 0,
        "assessedCount": 0,
        "replicatingCount": 0,
        "testMigratedCount": 0,
        "migratedCount": 0,
        "refreshSummaryState": "Completed",
        "lastSummaryRefreshedTime": project.updated_at.isoformat(),
    }


def project_body(project: MigrateProject) -> dict:
    solutions = list(project.solutions.all())
    return {
        "id": project.arm_id,
        "name": project.name,
        "type": "Microsoft.Migrate/migrateProjects",
        "location": project.location,
        "tags": project.tags,
        "eTag": f'"{project.etag}"',
        "properties": {
            "registeredTools": [solution.tool for solution in solutions],
            "summary": {"servers": _summary(project)},
            "lastSummaryRefreshedTime": project.updated_at.isoformat(),
            "refreshSummaryState": "Completed",
            "provisioningState": "Succeeded",
        },
    }


def solution_body(solution: Solution) -> dict:
    project = solution.project
    extended = {"projectId": project.arm_id}
    if solution.tool == Solution.Tool.SERVER_MIGRATION:
        # Az.Migrate finds the project's vault only through vaultId.
        for resource in project.migration_resources.all():
            extended[services.LINK_KEYS[resource.kind]] = resource.arm_id
        if project.target_region:
            extended["targetRegion"] = project.target_region
            extended["machinesVirtualized"] = project.machines_virtualized
    return {
        "id": solution.arm_id,
        "name": solution.name,
        "type": "Microsoft.Migrate/MigrateProjects/Solutions",
        "etag": f'"{solution.etag}"',
        "properties": {
            "tool": solution.tool,
            "purpose": solution.purpose,
            "goal": solution.goal,
            "status": solution.status,
            "cleanupState": "None",
            "summary": _summary(project),
            "details": {"groupCount": 0, "assessmentCount": 0, "extendedDetails": extended},
        },
    }


class ProjectProperties(serializers.Serializer):
    registeredTools = serializers.ListField(
        child=serializers.ChoiceField(choices=list(Solution.PURPOSES)), required=False, allow_null=True
    )


class ProjectInput(serializers.Serializer):
    location = serializers.CharField(max_length=60)
    tags = TagsField(required=False, allow_null=True)
    properties = ProjectProperties(required=False, allow_null=True)


class ProjectPatch(serializers.Serializer):
    tags = TagsField(required=False, allow_null=True)


class SolutionDetailsInput(serializers.Serializer):
    extendedDetails = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=1000), required=False, allow_null=True
    )


class SolutionPropertiesInput(serializers.Serializer):
    details = SolutionDetailsInput(required=False, allow_null=True)


class SolutionInput(serializers.Serializer):
    """What the hub reads of a solution update: the resources Create resources made, in
    details.extendedDetails (vaultId, keyVaultId, storageAccountId; machinesVirtualized, default
    physical). The rest of the solution is the hub's own and stays."""

    properties = SolutionPropertiesInput(required=False, allow_null=True)


class RegisterToolInput(serializers.Serializer):
    tool = serializers.CharField()


# Azure Migrate projects


class ProjectListView(ScopeView):
    @extend_schema(operation_id="MigrateProjects_List", responses={200: responses.MIGRATE_PROJECT_LIST})
    def get(self, request, **parents):
        projects = self.in_scope(access.visible_projects(request.user)).prefetch_related("solutions")
        return arm_list([project_body(project) for project in projects])


class ProjectView(ScopeView):
    def resolve_scope(self, request, **route):
        # HEAD answers with a bare status whichever lookup fails, the group's too: it looks up itself.
        if request.method != "HEAD":
            super().resolve_scope(request, **route)

    @extend_schema(operation_id="MigrateProjects_Get", responses={200: responses.MIGRATE_PROJECT})
    def get(self, request, project_name, **parents):
        return Response(project_body(access.get_project(request.user, self.group, project_name)))

    @extend_schema(operation_id="MigrateProjects_CheckExistence", responses={204: None, 404: None})
    def head(self, request, subscription_id, resource_group_name, project_name):
        def lookup():
            group = access.get_group(request.user, subscription_id, resource_group_name)
            return access.get_project(request.user, group, project_name)

        return existence(lookup)

    @create_or_update("MigrateProjects_PutMigrateProject", ProjectInput, responses.MIGRATE_PROJECT)
    def put(self, request, project_name, **parents):
        body = validated(ProjectInput, request.data)
        project, created = services.migrate_project_create_or_update(
            user=request.user,
            resource_group=self.group,
            name=project_name,
            location=body["location"],
            tags=body.get("tags"),
            tools=(body.get("properties") or {}).get("registeredTools") or [],
        )
        return put_answer(project_body(project), created)

    @extend_schema(
        operation_id="MigrateProjects_PatchMigrateProject",
        request=ProjectPatch,
        responses={200: responses.MIGRATE_PROJECT},
    )
    def patch(self, request, project_name, **parents):
        project = access.get_project(request.user, self.group, project_name)
        body = validated(ProjectPatch, request.data)
        if "tags" in body:
            project = services.migrate_project_update_tags(user=request.user, project=project, tags=body["tags"] or {})
        return Response(project_body(project))

    @extend_schema(operation_id="MigrateProjects_DeleteMigrateProject", responses={200: None, 204: None})
    def delete(self, request, project_name, **parents):
        return deletion(
            lambda: access.get_project(request.user, self.group, project_name),
            lambda project: services.migrate_project_delete(user=request.user, project=project),
        )


class ProjectPartView(ScopeView):
    """Below a project (its actions and solutions): the project is a parent too, in `self.project`."""

    def resolve_parents(self, request, project_name, **parents):
        super().resolve_parents(request, **parents)
        self.project = access.get_project(request.user, self.group, project_name)


class RegisterToolView(ProjectPartView):
    permissions = {"post": access.REGISTER_TOOL}

    @extend_schema(
        operation_id="MigrateProjects_RegisterTool",
        request=RegisterToolInput,
        responses={200: responses.REGISTER_TOOL_RESULT},
    )
    def post(self, request, **parents):
        body = validated(RegisterToolInput, request.data)
        services.tool_register(user=request.user, project=self.project, tool=body["tool"])
        return Response({"isRegistered": True})


class RefreshSummaryView(ProjectPartView):
    permissions = {"post": access.REFRESH_PROJECT_SUMMARY}

    @extend_schema(
        operation_id="MigrateProjects_RefreshMigrateProjectSummary",
        request=None,
        responses={200: responses.REFRESH_SUMMARY_RESULT},
    )
    def post(self, request, **parents):
        return Response({"isRefreshed": True})


class SolutionListView(ProjectPartView):
    @extend_schema(operation_id="Solutions_EnumerateSolutions", responses={200: responses.SOLUTION_LIST})
    def get(self, request, **parents):
        return arm_list([solution_body(solution) for solution in self.project.solutions.all()])


class SolutionView(ProjectPartView):
    permissions = {"put": access.WRITE_MIGRATE_PROJECT, "patch": access.WRITE_MIGRATE_PROJECT}

    def solution(self, solution_name: str) -> Solution:
        project = self.project
        solution = next((s for s in project.solutions.all() if s.name.lower() == solution_name.lower()), None)
        if solution is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Migrate/migrateProjects/{project.name}/solutions/{solution_name}' "
                f"under resource group '{project.resource_group.name}' was not found.",
            )
        return solution

    @extend_schema(operation_id="Solutions_GetSolution", responses={200: responses.SOLUTION})
    def get(self, request, solution_name, **parents):
        return Response(solution_body(self.solution(solution_name)))

    @extend_schema(operation_id="Solutions_PatchSolution", request=SolutionInput, responses={200: responses.SOLUTION})
    def patch(self, request, solution_name, **parents):
        """Create resources' last call: naming the vault, Key Vault and storage account makes them the
        project's and locks its target region (services.migration_resources_link)."""
        solution = self.solution(solution_name)
        body = validated(SolutionInput, request.data)
        extended = ((body.get("properties") or {}).get("details") or {}).get("extendedDetails") or {}
        resource_ids = {kind: extended.get(key, "") for kind, key in services.LINK_KEYS.items()}
        if any(resource_ids.values()):
            if solution.tool != Solution.Tool.SERVER_MIGRATION:
                raise ArmError(
                    400,
                    "InvalidParameter",
                    f"Only Server Migration takes the resources Create resources made, not {solution.name}.",
                    "properties.details.extendedDetails",
                )
            services.migration_resources_link(
                user=request.user,
                project=self.project,
                resource_ids=resource_ids,
                machines_virtualized=extended.get("machinesVirtualized") or "physical",
            )
            self.project.refresh_from_db(fields=["target_region", "machines_virtualized"])
        return Response(solution_body(self.solution(solution_name)))

    @extend_schema(operation_id="Solutions_PutSolution", request=SolutionInput, responses={200: responses.SOLUTION})
    def put(self, request, solution_name, **parents):
        """A solution exists once its tool is registered (registerTool): PUT updates it as PATCH does."""
        return self.patch(request, solution_name, **parents)


PROJECTS = "providers/microsoft.migrate/migrateprojects"
PROJECT = f"{RG}/{PROJECTS}/<str:project_name>"

urlpatterns = [
    *at_both_scopes(PROJECTS, ProjectListView),
    path(PROJECT, ProjectView.as_view()),
    path(f"{PROJECT}/registertool", RegisterToolView.as_view()),
    path(f"{PROJECT}/refreshsummary", RefreshSummaryView.as_view()),
    path(f"{PROJECT}/solutions", SolutionListView.as_view()),
    path(f"{PROJECT}/solutions/<str:solution_name>", SolutionView.as_view()),
]
