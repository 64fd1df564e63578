//! Supabase Storage API contract server (filled in next).
