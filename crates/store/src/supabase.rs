//! Supabase Storage over its REST API (reqwest).
