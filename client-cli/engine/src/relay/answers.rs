//! Which answer fits which request: a relay that answers a request with another kind of
//! response is hostile or broken, and the request fails instead of misreading it.

use kith_protocol::{Request, Response};

/// Which answer kind a request may get.
pub(super) fn expected_answer(request: &Request) -> fn(&Response) -> bool {
    match request {
        Request::Hello { .. } => |r| matches!(r, Response::Hello { .. }),
        Request::Ping => |r| matches!(r, Response::Pong),
        Request::Challenge => |r| matches!(r, Response::Challenge { .. }),
        Request::CreateGroup { .. } => |r| matches!(r, Response::GroupCreated { .. }),
        Request::Auth { .. } => |r| matches!(r, Response::Authorized { .. }),
        Request::Post { .. } => |r| matches!(r, Response::Posted { .. }),
        Request::Fetch { .. } => |r| matches!(r, Response::Messages { .. }),
        Request::Subscribe { .. } => |r| matches!(r, Response::Subscribed { .. }),
        Request::Unsubscribe { .. } => |r| matches!(r, Response::Unsubscribed),
        Request::PutInvite { .. } => |r| matches!(r, Response::InvitePut { .. }),
        Request::GetInvite { .. } => |r| matches!(r, Response::Invite { .. }),
        Request::AnswerInvite { .. } => |r| matches!(r, Response::Answered),
        Request::GetAnswer { .. } => |r| matches!(r, Response::Answer { .. }),
        Request::PutWelcome { .. } => |r| matches!(r, Response::WelcomePut),
        Request::GetWelcome { .. } => |r| matches!(r, Response::Welcome { .. }),
        Request::DeleteInvite { .. } => |r| matches!(r, Response::InviteDeleted),
        Request::PutBlob { .. } => |r| matches!(r, Response::BlobPut { .. }),
        Request::GetBlob { .. } => |r| matches!(r, Response::Blob { .. }),
        Request::SetRetention { .. } => |r| matches!(r, Response::RetentionSet { .. }),
        Request::AdminAuth { .. } => |r| matches!(r, Response::AdminAuthorized { .. }),
        Request::SetAdmins { .. } => |r| matches!(r, Response::AdminsSet),
        Request::VoidFrom { .. } => |r| matches!(r, Response::Voided { .. }),
        Request::ResetAccessKey { .. } => |r| matches!(r, Response::AccessKeyReset { .. }),
        Request::Knock { .. } => |r| matches!(r, Response::Knocked { .. }),
        Request::GetKnocks { .. } => |r| matches!(r, Response::Knocks { .. }),
        Request::DeleteKnock { .. } => |r| matches!(r, Response::KnockDeleted),
        Request::CreateGroupAt { .. } => |r| matches!(r, Response::GroupCreated { .. }),
        Request::DeleteGroup { .. } => |r| matches!(r, Response::GroupDeleted),
    }
}

pub(super) fn response_name(r: &Response) -> &'static str {
    match r {
        Response::Hello { .. } => "Hello",
        Response::Pong => "Pong",
        Response::Challenge { .. } => "Challenge",
        Response::GroupCreated { .. } => "GroupCreated",
        Response::Authorized { .. } => "Authorized",
        Response::Posted { .. } => "Posted",
        Response::Messages { .. } => "Messages",
        Response::Subscribed { .. } => "Subscribed",
        Response::Unsubscribed => "Unsubscribed",
        Response::InvitePut { .. } => "InvitePut",
        Response::Invite { .. } => "Invite",
        Response::Answered => "Answered",
        Response::Answer { .. } => "Answer",
        Response::WelcomePut => "WelcomePut",
        Response::Welcome { .. } => "Welcome",
        Response::InviteDeleted => "InviteDeleted",
        Response::BlobPut { .. } => "BlobPut",
        Response::Blob { .. } => "Blob",
        Response::RetentionSet { .. } => "RetentionSet",
        Response::AdminAuthorized { .. } => "AdminAuthorized",
        Response::AdminsSet => "AdminsSet",
        Response::Voided { .. } => "Voided",
        Response::AccessKeyReset { .. } => "AccessKeyReset",
        Response::Knocked { .. } => "Knocked",
        Response::Knocks { .. } => "Knocks",
        Response::KnockDeleted => "KnockDeleted",
        Response::GroupDeleted => "GroupDeleted",
    }
}
