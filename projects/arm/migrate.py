"""ARM handlers for Azure Migrate projects (Microsoft.Migrate/migrateProjects, api-version 2018-09-01-preview)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from hub.arm.errors import ArmError
from hub.arm.views import ArmView, arm_list, validated
from projects import access, services
from projects.arm.resource_manager import RG, SUB, TagsField
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
    vault = services.project_vault(project) if solution.tool == Solution.Tool.SERVER_MIGRATION else None
    if vault is not None:
        # Az.Migrate finds the project's vault only through this field.
        extended["vaultId"] = vault.arm_id
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


class RegisterToolInput(serializers.Serializer):
    tool = serializers.CharField()


# Azure Migrate projects


class ProjectListView(ArmView):
    @extend_schema(operation_id="MigrateProjects_List", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name=None):
        subscription = access.get_subscription(request.user, subscription_id)
        projects = access.visible_projects(request.user).filter(resource_group__subscription=subscription)
        if resource_group_name is not None:
            group = access.get_resource_group(request.user, subscription, resource_group_name)
            projects = projects.filter(resource_group=group)
        projects = projects.prefetch_related("solutions")
        return arm_list([project_body(project) for project in projects])


class ProjectMixin:
    def _group(self, request, subscription_id, resource_group_name):
        return access.get_group(request.user, subscription_id, resource_group_name)

    def _project(self, request, subscription_id, resource_group_name, project_name):
        group = self._group(request, subscription_id, resource_group_name)
        return access.get_project(request.user, group, project_name)


class ProjectView(ProjectMixin, ArmView):
    @extend_schema(operation_id="MigrateProjects_Get", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, project_name):
        return Response(project_body(self._project(request, subscription_id, resource_group_name, project_name)))

    @extend_schema(operation_id="MigrateProjects_CheckExistence", responses={204: None, 404: None})
    def head(self, request, subscription_id, resource_group_name, project_name):
        try:
            self._project(request, subscription_id, resource_group_name, project_name)
        except ArmError as error:
            return Response(status=error.status)
        return Response(status=204)

    @extend_schema(operation_id="MigrateProjects_PutMigrateProject", request=ProjectInput, responses={200: dict})
    def put(self, request, subscription_id, resource_group_name, project_name):
        group = self._group(request, subscription_id, resource_group_name)
        body = validated(ProjectInput, request.data)
        project, created = services.migrate_project_create_or_update(
            user=request.user,
            resource_group=group,
            name=project_name,
            location=body["location"],
            tags=body.get("tags"),
            tools=(body.get("properties") or {}).get("registeredTools") or [],
        )
        return Response(project_body(project), status=201 if created else 200)

    @extend_schema(operation_id="MigrateProjects_PatchMigrateProject", request=ProjectPatch, responses={200: dict})
    def patch(self, request, subscription_id, resource_group_name, project_name):
        project = self._project(request, subscription_id, resource_group_name, project_name)
        body = validated(ProjectPatch, request.data)
        if "tags" in body:
            project = services.migrate_project_update_tags(user=request.user, project=project, tags=body["tags"] or {})
        return Response(project_body(project))

    @extend_schema(operation_id="MigrateProjects_DeleteMigrateProject", responses={200: None, 204: None})
    def delete(self, request, subscription_id, resource_group_name, project_name):
        group = self._group(request, subscription_id, resource_group_name)
        try:
            project = access.get_project(request.user, group, project_name)
        except ArmError:
            return Response(status=204)  # ARM: deleting what is not there succeeds with 204
        services.migrate_project_delete(user=request.user, project=project)
        return Response(status=200)


class RegisterToolView(ProjectMixin, ArmView):
    @extend_schema(operation_id="MigrateProjects_RegisterTool", request=RegisterToolInput, responses={200: dict})
    def post(self, request, subscription_id, resource_group_name, project_name):
        project = self._project(request, subscription_id, resource_group_name, project_name)
        body = validated(RegisterToolInput, request.data)
        services.tool_register(user=request.user, project=project, tool=body["tool"])
        return Response({"isRegistered": True})


class RefreshSummaryView(ProjectMixin, ArmView):
    @extend_schema(operation_id="MigrateProjects_RefreshMigrateProjectSummary", responses={200: dict})
    def post(self, request, subscription_id, resource_group_name, project_name):
        self._project(request, subscription_id, resource_group_name, project_name)
        return Response({"isRefreshed": True})


class SolutionListView(ProjectMixin, ArmView):
    @extend_schema(operation_id="Solutions_EnumerateSolutions", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, project_name):
        project = self._project(request, subscription_id, resource_group_name, project_name)
        return arm_list([solution_body(solution) for solution in project.solutions.all()])


class SolutionView(ProjectMixin, ArmView):
    @extend_schema(operation_id="Solutions_GetSolution", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, project_name, solution_name):
        project = self._project(request, subscription_id, resource_group_name, project_name)
        solution = next((s for s in project.solutions.all() if s.name.lower() == solution_name.lower()), None)
        if solution is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Migrate/migrateProjects/{project.name}/solutions/{solution_name}' "
                f"under resource group '{project.resource_group.name}' was not found.",
            )
        return Response(solution_body(solution))


PROJECT = f"{RG}/providers/microsoft.migrate/migrateprojects/<str:project_name>"

urlpatterns = [
    path(f"{SUB}/providers/microsoft.migrate/migrateprojects", ProjectListView.as_view()),
    path(f"{RG}/providers/microsoft.migrate/migrateprojects", ProjectListView.as_view()),
    path(PROJECT, ProjectView.as_view()),
    path(f"{PROJECT}/registertool", RegisterToolView.as_view()),
    path(f"{PROJECT}/refreshsummary", RefreshSummaryView.as_view()),
    path(f"{PROJECT}/solutions", SolutionListView.as_view()),
    path(f"{PROJECT}/solutions/<str:solution_name>", SolutionView.as_view()),
]
