//! Tool arguments that name the call's target: every connector's tools take one optional
//! member naming the database, host, context or instance. [`tool_args!`](crate::tool_args)
//! declares it once per connector, so its name, type and description cannot drift
//! between tools, and makes the struct strict (unknown arguments are errors).

/// Declares a tool's argument struct: first the optional target member `$target`
/// described by `$doc`, then the tool's own fields. The struct derives `Deserialize` and
/// `JsonSchema` and denies unknown fields; attributes given before `struct` come after
/// those (so `#[serde(default)]` may be one of them).
///
/// ```ignore
/// mcp_core::tool_args! {
///     host: "Which configured Docker host (default: the first).";
///     pub struct ListArgs {
///         /// Also stopped containers.
///         #[serde(default)]
///         pub all: bool,
///     }
/// }
/// ```
#[macro_export]
macro_rules! tool_args {
    ($target:ident: $doc:literal; $(#[$meta:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        #[derive(Debug, ::serde::Deserialize, ::schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        $(#[$meta])*
        $vis struct $name {
            #[doc = $doc]
            pub $target: Option<String>,
            $($fields)*
        }
    };
}

#[cfg(test)]
mod tests {
    crate::tool_args! {
        database: "Which configured database (default: the first).";
        /// A test tool's arguments.
        pub struct Args {
            /// Rows to skip.
            #[serde(default)]
            pub offset: usize,
        }
    }

    #[test]
    fn the_target_comes_first_described_and_unknown_members_are_refused() {
        let schema = crate::server::input_schema_of::<Args>();
        let names: Vec<&String> = schema["properties"].as_object().expect("properties").keys().collect();
        assert_eq!(names, ["database", "offset"]);
        assert_eq!(schema["properties"]["database"]["description"], "Which configured database (default: the first).");
        let args: Args = serde_json::from_value(serde_json::json!({"offset": 3})).expect("valid");
        assert_eq!((args.database, args.offset), (None, 3));
        let e = serde_json::from_value::<Args>(serde_json::json!({"databse": "x"})).expect_err("unknown member");
        assert!(e.to_string().contains("databse"), "{e}");
    }
}
