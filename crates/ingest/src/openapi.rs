//! The OpenAPI document (`GET /openapi.json`) and the interactive docs (`GET /docs`), whose
//! assets are embedded in the binary (no network needed).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::handlers;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pinpipe ingest API",
        description = "The Pinterest pipeline's webhook (`POST /pin/`, `/geo/`, `/user/`), batch endpoints \
            and a Kafka REST Proxy v2 produce endpoint. 200 means the event is durable in the event log."
    ),
    paths(
        handlers::post_pin,
        handlers::post_geo,
        handlers::post_user,
        handlers::post_pins,
        handlers::post_geos,
        handlers::post_users,
        handlers::post_topic,
        handlers::healthz,
        handlers::readyz,
    ),
    components(schemas(handlers::BatchAccepted, handlers::PositionDoc)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of the ingest API.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub(crate) fn docs() -> Router {
    SwaggerUi::new("/docs")
        .url("/openapi.json", api_doc())
        .into()
}
