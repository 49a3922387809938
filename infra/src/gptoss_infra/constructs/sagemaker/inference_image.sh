# The build phase of the serving image (inference_image.py). CodeBuild runs each line below
# as one command, all in one bash shell, in the unpacked source asset (the repository's
# facts/ and inference_container/ only).
# Environment (the project's variables): REPO_URI, IMAGE_TAG, UPSTREAM_IMAGE, BASE_IMAGE_URI,
# PTC_PREFIX, DOCKERHUB_SECRET, DOCKERFILE.
# Keep every command on one line: lines are commands, comment and blank lines are dropped.
set -euo pipefail
REGISTRY="${REPO_URI%%/*}"
aws ecr get-login-password | docker login --username AWS --password-stdin "$REGISTRY"
# The base image: the ECR copy given, else through the registry's pull-through cache rule
# for Docker Hub (created on first use with the Docker Hub secret, never deleted: it is
# shared by the account's environments), never an anonymous Docker Hub pull.
if [ -n "${BASE_IMAGE_URI:-}" ]; then BASE="$BASE_IMAGE_URI"; else if ! aws ecr describe-pull-through-cache-rules --ecr-repository-prefixes "$PTC_PREFIX" >/dev/null 2>&1; then SECRET_ARN="$(aws secretsmanager describe-secret --secret-id "$DOCKERHUB_SECRET" --query ARN --output text)"; aws ecr create-pull-through-cache-rule --ecr-repository-prefix "$PTC_PREFIX" --upstream-registry-url registry-1.docker.io --credential-arn "$SECRET_ARN"; fi; BASE="$REGISTRY/$PTC_PREFIX/$UPSTREAM_IMAGE"; fi
aws ecr get-login-password | docker login --username AWS --password-stdin "${BASE%%/*}"
# The Dockerfile must still start FROM the image we resolved; refuse to build otherwise.
grep -qx "FROM $UPSTREAM_IMAGE" "$DOCKERFILE" || { echo "$DOCKERFILE no longer starts FROM $UPSTREAM_IMAGE; update the image build" >&2; exit 1; }
sed -i "s#^FROM $UPSTREAM_IMAGE\$#FROM $BASE#" "$DOCKERFILE"
# The repository root is the context: the Dockerfile copies facts/ and inference_container/.
docker build --file "$DOCKERFILE" --tag "$REPO_URI:$IMAGE_TAG" .
docker push "$REPO_URI:$IMAGE_TAG"
